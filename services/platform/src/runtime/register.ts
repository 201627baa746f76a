// Preloaded by deploy/service.sh (`--import @tessera/platform/runtime/register`, with --expose-gc)
// in every service process: see memory-trim.ts. Without --expose-gc (tests, tools) it does nothing.
import { startMemoryTrim, type FullCollection } from "./memory-trim.ts";

const collect = (globalThis as { gc?: FullCollection }).gc;
if (collect) startMemoryTrim(collect);
