import { describe, expect, it } from "vitest";
import { answerTokenLimit, estimateTokens, limitAnswerTokens } from "./stream-answer.ts";

const installation = { max: 4_096, tenantSet: false };
const tenant = { max: 100, tenantSet: true };
const settings = (own: number | null) => ({ maxCompletionTokens: 4_096, tenantSettings: { maxCompletionTokens: async () => own } });

describe("the most tokens one answer may take", () => {
  it("is the tenant's own maximum, else the installation's", async () => {
    expect(await answerTokenLimit(settings(100), "t")).toEqual(tenant);
    expect(await answerTokenLimit(settings(null), "t")).toEqual(installation);
  });

  it("bounds the estimate: prompt plus the requested maximum, never above the limit", () => {
    expect(estimateTokens(10, {}, 100)).toBe(110);
    expect(estimateTokens(10, { max_tokens: 30 }, 100)).toBe(40);
    expect(estimateTokens(10, { max_tokens: 5_000 }, 100)).toBe(110);
    expect(estimateTokens(10, { max_completion_tokens: 5_000 }, 4_096)).toBe(4_106);
    // Both named: the model may honour either, so the larger one is reserved.
    expect(estimateTokens(10, { max_completion_tokens: 20, max_tokens: 50 }, 100)).toBe(60);
    expect(estimateTokens(10, { max_tokens: 0 }, 100)).toBe(110);
    expect(estimateTokens(10, { max_tokens: "lots" }, 100)).toBe(110);
  });

  it("caps what the model is asked for at the limit, so the estimate bounds the usage", () => {
    expect(limitAnswerTokens({ max_tokens: 5_000, temperature: 0.2 }, tenant)).toEqual({ max_tokens: 100, temperature: 0.2 });
    expect(limitAnswerTokens({ max_completion_tokens: 5_000, max_tokens: 50 }, tenant)).toEqual({ max_completion_tokens: 100, max_tokens: 50 });
    expect(limitAnswerTokens({ max_tokens: 50 }, tenant)).toEqual({ max_tokens: 50 });
    expect(limitAnswerTokens({ max_tokens: 5_000 }, installation)).toEqual({ max_tokens: 4_096 });
  });

  it("names the tenant's maximum when the request names none, and only when the tenant set one", () => {
    expect(limitAnswerTokens({}, tenant)).toEqual({ max_tokens: 100 });
    expect(limitAnswerTokens({ temperature: 1 }, installation)).toEqual({ temperature: 1 });
  });

  it("leaves the caller's parameters untouched", () => {
    const parameters = { max_tokens: 5_000 };
    limitAnswerTokens(parameters, tenant);
    expect(parameters).toEqual({ max_tokens: 5_000 });
  });

  it("reserves what the capped request may use, whatever was asked", () => {
    for (const asked of [{}, { max_tokens: 1 }, { max_tokens: 99_999 }, { max_completion_tokens: 99_999 }]) {
      const parameters = limitAnswerTokens(asked, tenant);
      const allowed = (parameters.max_tokens as number | undefined) ?? (parameters.max_completion_tokens as number);
      expect(estimateTokens(7, parameters, tenant.max)).toBeGreaterThanOrEqual(7 + allowed);
    }
  });
});
