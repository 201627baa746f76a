// Runs the whole system on this machine (used by `npm start`): every service and the BFF as
// separate processes with prefixed logs. Ctrl-C stops them all gracefully.
import { startSystem } from "@tessera/platform/launcher";

const system = await startSystem({ env: process.env, bffPort: Number(process.env.BFF_PORT ?? 8080) });
process.stdout.write(`\nTessera is up: ${system.env.PUBLIC_BASE_URL}  (readiness: ${system.baseUrl}/readyz)\n\n`);
const stop = async () => {
  await system.stopAll();
  process.exit(0);
};
process.once("SIGINT", () => void stop());
process.once("SIGTERM", () => void stop());
