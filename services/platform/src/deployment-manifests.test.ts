import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The Kubernetes overlays must render from what is committed: a fresh clone has no hand-made files.

const root = fileURLToPath(new URL("../../../", import.meta.url));
const committed = new Set(execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" }).split("\0").filter(Boolean));
const hasKubectl = (() => {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** The files a kustomization references (resources, components, generator envs and files, patch paths), followed into directories. */
function referencedFiles(directory: string): string[] {
  const file = join(directory, "kustomization.yaml");
  const files = [file];
  let section = "";
  for (const line of readFileSync(join(root, file), "utf8").split("\n")) {
    const key = /^(\s*)(?:-\s+)?([A-Za-z]+):\s*(.*)$/.exec(line);
    if (key && key[1] === "") section = key[2]!;
    const references: string[] = [];
    if (key && (key[2] === "envs" || key[2] === "files") && key[3]!.startsWith("[")) references.push(...key[3]!.replace(/[[\]]/g, "").split(","));
    else if (key && key[2] === "path" && !key[3]!.startsWith("/")) references.push(key[3]!);
    else if ((section === "resources" || section === "components") && /^\s*-\s+[^\s{]/.test(line)) references.push(line.replace(/^\s*-\s+/, ""));
    for (const reference of references.map((value) => value.trim()).filter(Boolean)) {
      const target = normalize(join(directory, reference));
      if (reference.endsWith(".yaml") || reference.endsWith(".env")) files.push(target);
      else files.push(...referencedFiles(target));
    }
  }
  return files;
}

const render = (overlay: string) => execFileSync("kubectl", ["kustomize", join(root, overlay)], { encoding: "utf8" });

describe("Kubernetes overlays", () => {
  for (const overlay of ["k8s/overlays/dev", "k8s/overlays/prod"]) {
    it(`${overlay} references only committed files`, () => {
      const files = referencedFiles(overlay);
      expect(files).toContain("k8s/base/kustomization.yaml");
      expect(files.filter((file) => !committed.has(file))).toEqual([]);
    });
  }

  it("documents in the prod overlay every secret key the services are given in development", () => {
    const readme = readFileSync(join(root, "k8s/overlays/prod/README.md"), "utf8");
    const devKeys = ["secrets.dev.env", "session-grant.dev.env"].flatMap((file) =>
      readFileSync(join(root, "k8s/overlays/dev", file), "utf8")
        .split("\n")
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => line.slice(0, line.indexOf("="))),
    );
    expect(devKeys.length).toBeGreaterThan(3);
    for (const key of devKeys) expect(readme, key).toContain(`\`${key}\``);
  });

  it.runIf(hasKubectl)("renders: dev with its development Secrets and mode, prod asking the cluster for real ones", () => {
    const dev = render("k8s/overlays/dev");
    expect(dev).toMatch(/name: tessera-secrets-/);
    expect(dev).toMatch(/name: tessera-session-grant-/);
    expect(dev).toContain("TESSERA_MODE: development");
    const prod = render("k8s/overlays/prod");
    expect(prod).not.toMatch(/^kind: Secret$/m);
    expect(prod).not.toContain("TESSERA_MODE");
    expect(prod).toContain("name: tessera-secrets");
    expect(prod).toContain("name: tessera-session-grant");
  });
});

