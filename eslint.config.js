// One lint setup for the whole repository (format is prettier's job: `npm run format`).
import svelte from "eslint-plugin-svelte";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/node_modules/**", "proto/gen/**", "web/build/**", "web/.svelte-kit/**", "web/src/lib/api/generated/**", ".data/**"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  // The web app: Svelte components (TypeScript inside) with the Svelte plugin's recommended rules.
  ...svelte.configs.recommended.map((config) => ({ ...config, files: ["web/**/*.svelte", "web/**/*.svelte.ts"] })),
  {
    files: ["web/**/*.svelte", "web/**/*.svelte.ts"],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: [".svelte"] } },
    // The app is always served at the site's root (the BFF serves it), so there is no base path to resolve.
    rules: { "svelte/no-navigation-without-resolve": "off" },
  },
);
