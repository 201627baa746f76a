// The local demo LLM for `npm start` when no upstream is configured (see demo-upstream.ts).
import { startDemoUpstream } from "./demo-upstream.ts";

const port = Number(process.env.DEMO_LLM_PORT ?? 8099);
const upstream = await startDemoUpstream({ port, tokenDelayMs: Number(process.env.DEMO_LLM_TOKEN_DELAY_MS ?? 40) });
process.stdout.write(`demo LLM (model "demo-echo", not a real model) listening on ${upstream.url}\n`);
const stop = () => void upstream.close().then(() => process.exit(0));
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
