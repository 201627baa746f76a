// Sums the self time of a V8 .cpuprofile (node --cpu-prof) by function and by file or package, to
// see where a process spends its CPU.
//   node services/platform/bench/profile-summary.ts <file.cpuprofile> [top=30] [last seconds only]
// The last argument leaves out start-up: only samples of the profile's last N seconds count.
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, topArgument, lastArgument] = process.argv.slice(2);
if (!file) {
  console.error("usage: profile-summary.ts <file.cpuprofile> [top]");
  process.exit(2);
}
const top = Number(topArgument ?? 30);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));

// Self time per node: each sample's time delta belongs to the node sampled.
const selfMicros = new Map<number, number>();
const from = lastArgument ? profile.endTime - Number(lastArgument) * 1e6 : -Infinity;
let at = profile.startTime;
for (let index = 0; index < profile.samples.length; index++) {
  const id = profile.samples[index]!;
  at += profile.timeDeltas[index] ?? 0;
  if (at < from) continue;
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
}

/** "node_modules/@grpc/grpc-js/…" → "@grpc/grpc-js"; our own files stay files; node internals by module. */
function ownerOf(url: string): string {
  if (!url) return "(native/vm)";
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0) {
    const rest = url.slice(modules + "node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith("node:")) return url;
  const services = url.indexOf("/services/");
  return services >= 0 ? url.slice(services + 1) : url.replace(/^file:\/\//, "");
}

// Percentages of busy time: idle samples are left out.
for (const [id] of selfMicros) if (byId.get(id)!.callFrame.functionName === "(idle)") selfMicros.delete(id);
const total = [...selfMicros.values()].reduce((sum, value) => sum + value, 0);
const byFunction = new Map<string, number>();
const byOwner = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const owner = ownerOf(url);
  const key = `${functionName || "(anonymous)"}  ${owner}${url ? `:${lineNumber + 1}` : ""}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
  byOwner.set(owner, (byOwner.get(owner) ?? 0) + micros);
}

const print = (title: string, entries: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [key, micros] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${((micros / total) * 100).toFixed(1).padStart(5)} %  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}`);
};
console.log(`${file}: ${(total / 1000).toFixed(0)} ms busy`);
print("self time by file or package", byOwner);
print("self time by function", byFunction);
