import { countTokens } from "gpt-tokenizer";
import type { PromptMessage, TokenCounter } from "../../domain/ports.ts";

// User text may contain special-token strings; count them as plain text instead of refusing.
const asPlainText = { disallowedSpecial: new Set<string>() };

/** Counts tokens with the o200k_base encoding when the upstream reports no usage. */
export const gptTokenCounter: TokenCounter = {
  countText: (text) => (text.length === 0 ? 0 : countTokens(text, asPlainText)),
  // OpenAI's chat format costs about 3 tokens per message plus 3 to prime the answer.
  countPrompt: (messages: PromptMessage[]) =>
    messages.reduce((total, message) => total + 3 + countTokens(message.content, asPlainText) + (message.name ? 1 : 0), 3),
};
