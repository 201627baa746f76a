import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { O200K_TOKEN_SPLIT_REGEX } from "gpt-tokenizer/encodingParams/constants";
import type { PromptMessage, TokenCounter } from "../../domain/ports.ts";
import { CompactBpe } from "./compact-bpe.ts";

// gpt-tokenizer's own o200k_base ranks file and pre-split pattern, held compactly (see CompactBpe).
const o200k = CompactBpe.fromTiktoken(readFileSync(createRequire(import.meta.url).resolve("gpt-tokenizer/data/o200k_base.tiktoken")), O200K_TOKEN_SPLIT_REGEX);

/** Counts tokens with the o200k_base encoding when the upstream reports no usage; user text may
 * contain special-token strings, which count as plain text instead of being refused. */
export const gptTokenCounter: TokenCounter = {
  countText: (text) => o200k.count(text),
  // OpenAI's chat format costs about 3 tokens per message plus 3 to prime the answer.
  countPrompt: (messages: PromptMessage[]) => messages.reduce((total, message) => total + 3 + o200k.count(message.content) + (message.name ? 1 : 0), 3),
};
