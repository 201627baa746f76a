import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMongo, createLogger, newId } from "@tessera/platform";
import { testInfrastructure } from "@tessera/platform/testing";
import { createMongoLinkedIdentityRepository } from "../src/adapters/mongo/mongo-linked-identity-repository.ts";
import { IdentityConflictError } from "../src/domain/ports.ts";
import type { LinkedIdentity } from "../src/domain/oauth.ts";

// The unique indexes are what settles concurrent links (FerretDB v1 has no transactions).
const infrastructure = testInfrastructure("identities");
let repository: ReturnType<typeof createMongoLinkedIdentityRepository>;
let close: () => Promise<void>;

beforeAll(async () => {
  const mongo = await connectMongo(infrastructure.mongoUrl, createLogger("test", "silent"));
  repository = createMongoLinkedIdentityRepository(mongo.connection);
  await repository.ready();
  close = async () => {
    await mongo.connection.dropDatabase();
    await mongo.close();
  };
});
afterAll(async () => close?.());

const identity = (changes: Partial<LinkedIdentity>): LinkedIdentity => ({
  id: newId(),
  tenantId: "default",
  userId: newId(),
  provider: "github",
  subject: newId(),
  email: "",
  displayName: "",
  avatarUrl: "",
  linkedAt: new Date(),
  ...changes,
});
const conflictOf = (error: unknown) => (error instanceof IdentityConflictError ? error.on : String(error));

describe("linked identities in MongoDB", () => {
  it("lets exactly one of several simultaneous links of one provider account through", async () => {
    const subject = newId();
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => repository.create(identity({ subject }))));
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    expect(results.flatMap((result) => (result.status === "rejected" ? [conflictOf(result.reason)] : []))).toEqual(Array(5).fill("subject"));
  });

  it("keeps one identity per provider and user, and the same subject apart per tenant", async () => {
    const userId = newId();
    await repository.create(identity({ userId }));
    await expect(repository.create(identity({ userId })).catch(conflictOf)).resolves.toBe("user_provider");
    const subject = newId();
    await repository.create(identity({ subject, tenantId: "one" }));
    await repository.create(identity({ subject, tenantId: "two" }));
    expect(await repository.findBySubject("two", "github", subject)).toMatchObject({ tenantId: "two", subject });
    expect(await repository.remove("one", newId(), "github")).toBe(false);
  });
});
