import { describe, expect, it } from "vitest";
import { cookieSettingsFor } from "./request-context.ts";
import { activeAccount, browserSessionTtlSeconds, type BrowserSession } from "../application/browser-session.ts";

describe("browser session cookie", () => {
  it("uses the __Host- prefix and Secure only over HTTPS", () => {
    expect(cookieSettingsFor("https://chat.example.com")).toEqual({ name: "__Host-tessera_session", secure: true });
    expect(cookieSettingsFor("http://localhost:8080")).toEqual({ name: "tessera_session", secure: false });
  });

  it("lives as long as the longest refresh token, at least a day, and knows the active account per tenant", () => {
    const now = Date.now();
    const account = (userId: string, tenantId: string, refreshExpiresAt: number) => ({
      userId, tenantId, sessionId: "s", accessToken: "a", accessExpiresAt: now, refreshToken: "r", refreshExpiresAt, rememberMe: true, email: "", username: "", displayName: "", avatarUrl: "", signedInAt: 0,
    });
    const session: BrowserSession = { activeUserId: "u2", accounts: [account("u1", "default", now + 3_600_000), account("u2", "default", now + 30 * 86_400_000)], storeKey: null };
    expect(browserSessionTtlSeconds(session, now)).toBe(30 * 86_400);
    expect(browserSessionTtlSeconds({ ...session, accounts: [] }, now)).toBe(86_400);
    expect(activeAccount(session, "default")?.userId).toBe("u2");
    expect(activeAccount(session, "other-tenant")).toBeUndefined();
  });
});
