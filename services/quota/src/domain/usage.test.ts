import { describe, expect, it } from "vitest";
import { AppError } from "@tessera/platform";
import { validateUsageRecord, type UsageRecord } from "./usage.ts";

const record = (fields: Partial<UsageRecord> = {}): UsageRecord => ({
  eventId: "e1",
  occurredAt: new Date("2026-12-03T10:00:00Z"),
  tenantId: "t1",
  schemaVersion: 1,
  userId: "u1",
  chatId: "",
  messageId: "",
  model: "m",
  promptTokens: 1,
  completionTokens: 2,
  totalTokens: 3,
  source: "api",
  outcome: "complete",
  reservationId: null,
  ...fields,
});

describe("validateUsageRecord", () => {
  it("passes a well-formed event", () => {
    expect(validateUsageRecord(record())).toEqual(record());
  });

  it.each([
    ["tenantId", { tenantId: "t|1" }],
    ["tenantId", { tenantId: "a/b" }],
    ["userId", { userId: "{u1}" }],
    ["userId", { userId: "u}" }],
  ])("refuses a %s with a separator of the counter keys (%j) as an invalid event", (_, fields) => {
    let error: unknown;
    try {
      validateUsageRecord(record(fields));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: "invalid_event", status: 422 });
  });
});
