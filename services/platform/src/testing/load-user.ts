import { HttpClient } from "./http-client.ts";

/** Throws unless the response has the expected status (load and fault scripts stop on the first surprise). */
export async function expectStatus(response: Response, status: number, what: string): Promise<Response> {
  if (response.status !== status) throw new Error(`${what}: ${response.status} ${await response.text()}`);
  return response;
}

/**
 * A user for load and fault scripts: registered in its browser, its daily limits raised by the
 * installation's first admin (so nothing hits 429), and a personal API key.
 */
export async function loadUser(
  baseUrl: string,
  options: { email: string; username: string; admin: { username: string; password: string }; limits: Record<string, number>; keyName: string },
): Promise<{ browser: HttpClient; userId: string; key: string }> {
  const browser = new HttpClient(baseUrl);
  const registered = await expectStatus(
    await browser.post("/api/v1/auth/register", { email: options.email, username: options.username, password: "a perfectly fine passphrase" }),
    201,
    "register",
  );
  const userId = ((await registered.json()) as { user: { id: string } }).user.id;
  const admin = new HttpClient(baseUrl);
  await expectStatus(await admin.post("/api/v1/auth/login", { login: options.admin.username, password: options.admin.password }), 200, "admin login");
  await expectStatus(await admin.patch(`/api/v1/admin/users/${userId}`, options.limits), 200, "raise limits");
  const key = ((await (await expectStatus(await browser.post("/api/v1/me/api-keys", { name: options.keyName }), 201, "api key")).json()) as { key: string })
    .key;
  return { browser, userId, key };
}
