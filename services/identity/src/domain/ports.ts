import type { ApiKeyScope } from "@tessera/platform";
import type { Tenant } from "./tenant.ts";
import type { ExternalProfile, LinkedIdentity, OAuthFlow, ProviderKind, SignInPolicy, SignInProvider } from "./oauth.ts";
import type { User } from "./user.ts";

export interface NewUser {
  tenantId: string;
  email: string;
  username: string;
  fullName: string;
  role: User["role"];
  passwordHash: string | null;
  platformRole?: "operator" | null;
}

export interface UserListQuery {
  query?: string;
  status?: string;
  role?: string;
  limit: number;
  /** Id after which the page starts (ids grow with creation time). */
  after?: string;
}

export interface UserRepository {
  create(user: NewUser): Promise<User>;
  list(tenantId: string, query: UserListQuery): Promise<User[]>;
  findById(tenantId: string, id: string): Promise<User | null>;
  findByLogin(tenantId: string, login: string): Promise<User | null>;
  /** Active admins of a tenant, at most `limit` of them. */
  countActiveAdmins(tenantId: string, limit: number): Promise<number>;
  update(tenantId: string, id: string, changes: Partial<Omit<User, "id" | "tenantId" | "createdAt">>): Promise<User | null>;
}

export interface TenantRepository {
  findById(id: string): Promise<Tenant | null>;
  findBySlug(slug: string): Promise<Tenant | null>;
  findByDomain(domain: string): Promise<Tenant | null>;
  ensureDefault(): Promise<Tenant>;
  list(limit: number, after?: string): Promise<Tenant[]>;
  create(tenant: Omit<Tenant, "createdAt" | "updatedAt">): Promise<Tenant>;
  update(id: string, changes: Partial<Pick<Tenant, "name" | "domains" | "timeZone" | "minPasswordLength" | "selfRegistration">>): Promise<Tenant | null>;
}

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  userId: string;
  name: string;
  prefix: string;
  hash: string;
  /** What the key may do (API_KEY_SCOPES); keys made before scopes existed read as inference only. */
  scopes: ApiKeyScope[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface ApiKeyRepository {
  create(record: ApiKeyRecord): Promise<void>;
  listLive(tenantId: string, userId: string): Promise<ApiKeyRecord[]>;
  findLiveByHash(hash: string): Promise<ApiKeyRecord | null>;
  /** Revokes a live key of the user; resolves with its hash, null when there was none. */
  revoke(tenantId: string, userId: string, id: string, at: Date): Promise<string | null>;
  touch(id: string, at: Date): Promise<void>;
}

/**
 * Tells every process's caches that something changed (the platform invalidation bus). Resolves
 * once the news is out, so the answer to the change goes after it.
 */
export interface ChangeNotifier {
  userChanged(tenantId: string, userId: string): Promise<void>;
  /** By the stored hash of the key (what the edge caches keys by). */
  apiKeyRevoked(hash: string): Promise<void>;
  tenantsChanged(): Promise<void>;
}

/** Ends sessions in the session service (a disabled user is signed out everywhere). */
export interface SessionRevoker {
  revokeUserSessions(tenantId: string, userId: string): Promise<void>;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  needsRehash(hash: string): boolean;
}

export interface CommonPasswords {
  has(password: string): boolean;
}

/**
 * Attempt counters for password checks (sign-in, password change) and registrations. Keys are
 * "account:…", "device:…", "ip:…", "password-change:…", "register-ip:…", "register-tenant:…";
 * the adapter knows each kind's limit.
 */
export interface AttemptThrottle {
  /**
   * Counts one attempt against every key, atomically, before any password is checked. Answers 0
   * when the attempt may go ahead, else the seconds to wait (the attempt is then not counted and
   * a tripped key is locked for an exponentially growing time).
   */
  attempt(keys: string[]): Promise<number>;
  /** A successful attempt: clears these keys' counters and back-off. */
  reset(keys: string[]): Promise<void>;
  /** Gives back one attempt on these keys (a success that should not use up the client's budget). */
  refund(keys: string[]): Promise<void>;
  /** Whether this device signed in to this account before. */
  isKnownDevice(account: string, deviceId: string): Promise<boolean>;
  rememberDevice(account: string, deviceId: string): Promise<void>;
}

/** Runs a task while holding a tenant-wide lock across every replica (admin role changes, unlinking a sign-in method). */
export interface TenantLock {
  withLock<T>(tenantId: string, task: () => Promise<T>): Promise<T>;
}

/** Linked OAuth/OIDC identities, unique per tenant on (provider, subject) and on (user, provider). */
export interface LinkedIdentityRepository {
  /** Throws IdentityConflictError when (provider, subject) or (user, provider) is taken. */
  create(identity: LinkedIdentity): Promise<void>;
  findBySubject(tenantId: string, provider: ProviderKind, subject: string): Promise<LinkedIdentity | null>;
  listForUser(tenantId: string, userId: string): Promise<LinkedIdentity[]>;
  /** Refreshes the profile shown in settings after a sign-in. */
  updateProfile(id: string, profile: Pick<LinkedIdentity, "email" | "displayName" | "avatarUrl">): Promise<void>;
  remove(tenantId: string, userId: string, provider: ProviderKind): Promise<boolean>;
}

export class IdentityConflictError extends Error {
  readonly on: "subject" | "user_provider";
  constructor(on: "subject" | "user_provider") {
    super(`linked identity conflict on ${on}`);
    this.on = on;
  }
}

/** Short-lived, single-use authorization request state (Redis). */
export interface OAuthFlowStore {
  save(flow: OAuthFlow, ttlSeconds: number): Promise<void>;
  /** Returns the flow and forgets it in one step: a second call with the same state gets null. */
  take(state: string): Promise<OAuthFlow | null>;
}

/** The parameters of one authorization request. */
export interface AuthorizationRequest {
  redirectUri: string;
  state: string;
  nonce: string;
  codeChallenge: string;
}

/** The provider side of the authorization-code flow (openid-client); tokens never leave it. */
export interface OAuthProviderGateway {
  /** The providers the installation configures (whatever tenants enable). */
  configured(): SignInProvider[];
  authorizationUrl(provider: ProviderKind, request: AuthorizationRequest): Promise<string>;
  /**
   * Checks the callback (state, issuer, PKCE, nonce), exchanges the code and reads the profile.
   * Fails with the oauthErrors family (denied, failed, provider unavailable).
   */
  exchange(provider: ProviderKind, callbackQuery: string, flow: OAuthFlow): Promise<ExternalProfile>;
}

/** The tenant's sign-in settings (owned by tenant administration). */
export interface SignInPolicySource {
  forTenant(tenantId: string): Promise<SignInPolicy>;
}
