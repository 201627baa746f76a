import { describe, expect, it } from "vitest";
import { AppError } from "@tessera/platform";
import { addDays, dayOf, dayRange, eachDay, resetAt, startOfDay } from "./quota-day.ts";

describe("quota days follow the tenant's midnight", () => {
  it.each([
    ["UTC", "2026-03-10T23:59:59.999Z", "2026-03-10", "2026-03-11T00:00:00.000Z"],
    ["UTC", "2026-03-11T00:00:00.000Z", "2026-03-11", "2026-03-12T00:00:00.000Z"],
    // Moscow is UTC+3 all year: 21:00 UTC is already tomorrow there.
    ["Europe/Moscow", "2026-03-10T20:59:59.999Z", "2026-03-10", "2026-03-10T21:00:00.000Z"],
    ["Europe/Moscow", "2026-03-10T21:00:00.000Z", "2026-03-11", "2026-03-11T21:00:00.000Z"],
    // Half-hour and far-east offsets.
    ["Asia/Kolkata", "2026-03-10T18:29:00.000Z", "2026-03-10", "2026-03-10T18:30:00.000Z"],
    ["Pacific/Kiritimati", "2026-03-10T09:59:00.000Z", "2026-03-10", "2026-03-10T10:00:00.000Z"],
    ["America/Los_Angeles", "2026-03-10T06:59:00.000Z", "2026-03-09", "2026-03-10T07:00:00.000Z"],
  ])("%s at %s is day %s and resets at %s", (zone, instant, day, reset) => {
    expect(dayOf(new Date(instant), zone)).toBe(day);
    expect(resetAt(new Date(instant), zone).toISOString()).toBe(reset);
  });

  it("a day that loses an hour to daylight saving is 23 hours long (New York, 8 March 2026)", () => {
    const start = startOfDay("2026-03-08", "America/New_York");
    const end = startOfDay("2026-03-09", "America/New_York");
    expect(start.toISOString()).toBe("2026-03-08T05:00:00.000Z");
    expect(end.toISOString()).toBe("2026-03-09T04:00:00.000Z");
    expect((end.getTime() - start.getTime()) / 3_600_000).toBe(23);
  });

  it("a day that gains an hour is 25 hours long (Berlin, 25 October 2026)", () => {
    const start = startOfDay("2026-10-25", "Europe/Berlin");
    expect((startOfDay("2026-10-26", "Europe/Berlin").getTime() - start.getTime()) / 3_600_000).toBe(25);
  });

  it("where clocks jump at midnight the day starts at 01:00 (Santiago, 6 September 2026)", () => {
    const start = startOfDay("2026-09-06", "America/Santiago");
    // 00:00 local does not exist that night; the first instant of the day is 01:00 -03 = 04:00 UTC.
    expect(start.toISOString()).toBe("2026-09-06T04:00:00.000Z");
    expect(dayOf(new Date(start.getTime() - 1), "America/Santiago")).toBe("2026-09-05");
    expect(resetAt(new Date("2026-09-06T03:59:00Z"), "America/Santiago").toISOString()).toBe("2026-09-06T04:00:00.000Z");
  });
});

describe("day ranges", () => {
  it("default to the last 30 days and list every day", () => {
    const range = dayRange("", "", "2026-03-10");
    expect(range).toEqual({ from: "2026-02-09", to: "2026-03-10" });
    expect(eachDay(range.from, range.to)).toHaveLength(30);
    expect(addDays("2026-02-28", 1)).toBe("2026-03-01");
  });

  it("reject bad dates, reversed and over-long ranges", () => {
    for (const [from, to] of [
      ["2026-02-30", "2026-03-01"],
      ["2026-03-02", "2026-03-01"],
      ["2024-01-01", "2026-01-01"],
      ["yesterday", ""],
    ] as const) {
      expect(() => dayRange(from, to, "2026-03-10")).toThrow(AppError);
    }
  });
});
