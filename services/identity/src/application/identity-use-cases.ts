import type { Clock } from "@tessera/platform";
import type {
  ApiKeyRepository,
  ChangeNotifier,
  CommonPasswords,
  LinkedIdentityRepository,
  AttemptThrottle,
  OAuthFlowStore,
  OAuthProviderGateway,
  PasswordHasher,
  SessionRevoker,
  SignInPolicySource,
  TenantLock,
  TenantRepository,
  UserRepository,
} from "../domain/ports.ts";
import { createAccountUseCases } from "./account-use-cases.ts";
import { createAdminUseCases } from "./admin-use-cases.ts";
import { makeCompleteOAuth } from "./complete-oauth.ts";
import { makeLinkedIdentities } from "./linked-identities.ts";
import { makeListSignInProviders, makeStartOAuth } from "./start-oauth.ts";
import { makeRegisterUser } from "./register-user.ts";
import { makeResolveTenant } from "./resolve-tenant.ts";
import { makeSeed } from "./seed.ts";
import { makeVerifyPassword } from "./verify-password.ts";

export interface IdentityPorts {
  users: UserRepository;
  tenants: TenantRepository;
  apiKeys: ApiKeyRepository;
  sessions: SessionRevoker;
  changes: ChangeNotifier;
  hasher: PasswordHasher;
  commonPasswords: CommonPasswords;
  throttle: AttemptThrottle;
  tenantLock: TenantLock;
  clock: Clock;
  identities: LinkedIdentityRepository;
  oauthFlows: OAuthFlowStore;
  oauthGateway: OAuthProviderGateway;
  signInPolicies: SignInPolicySource;
  /** A hash of a random password, verified against when the user does not exist (equal timing). */
  dummyHash: string;
}

/** Wires the identity use cases over their ports. */
export function createIdentityUseCases(ports: IdentityPorts) {
  const registerUser = makeRegisterUser(ports);
  const oauthDeps = { ...ports, flows: ports.oauthFlows, gateway: ports.oauthGateway, policies: ports.signInPolicies };
  const listSignInProviders = makeListSignInProviders(oauthDeps);
  return {
    users: ports.users,
    registerUser,
    verifyPassword: makeVerifyPassword(ports),
    resolveTenant: makeResolveTenant(ports.tenants),
    seed: makeSeed({ ...ports, registerUser }),
    account: createAccountUseCases(ports),
    admin: createAdminUseCases(ports),
    listSignInProviders,
    startOAuth: makeStartOAuth({ ...oauthDeps, listSignInProviders }),
    completeOAuth: makeCompleteOAuth(oauthDeps),
    linkedIdentities: makeLinkedIdentities(ports),
  };
}

export type IdentityUseCases = ReturnType<typeof createIdentityUseCases>;
