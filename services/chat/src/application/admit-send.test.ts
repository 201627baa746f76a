import { describe, expect, it } from "vitest";
import { AppError, sessionCaller } from "@tessera/platform";
import { admitSend } from "./admit-send.ts";

const caller = sessionCaller({ tenantId: "t", userId: "u", role: "user" });
const setup = (status: string, overQuota = false) => {
  const calls: string[] = [];
  const deps = {
    newUuid: () => "r1",
    users: { get: async () => ({ status, maxChats: 10 }) },
    quota: {
      reserve: async (_caller: unknown, id: string) => {
        calls.push(`reserve ${id}`);
        if (overQuota) throw new AppError("quota_exceeded", 429, "over");
      },
      release: async (_caller: unknown, id: string) => void calls.push(`release ${id}`),
    },
  };
  return { deps, calls };
};

describe("admitSend", () => {
  it("reserves a message for an active user", async () => {
    const { deps, calls } = setup("active");
    expect((await admitSend(deps, caller)).reservationId).toBe("r1");
    expect(calls).toEqual(["reserve r1"]);
  });

  it("refuses silenced users with 403 and gives the reservation back", async () => {
    const { deps, calls } = setup("silenced");
    await expect(admitSend(deps, caller)).rejects.toMatchObject({ status: 403, code: "user_silenced" });
    expect(calls).toEqual(["reserve r1", "release r1"]);
  });

  it("prefers 403 over 429 and passes 429 through for active users", async () => {
    await expect(admitSend(setup("silenced", true).deps, caller)).rejects.toMatchObject({ status: 403 });
    const { deps, calls } = setup("active", true);
    await expect(admitSend(deps, caller)).rejects.toMatchObject({ status: 429, code: "quota_exceeded" });
    expect(calls).toEqual(["reserve r1"]);
  });
});
