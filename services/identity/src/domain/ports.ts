import type { Tenant } from "./tenant.ts";
import type { User } from "./user.ts";

export interface NewUser {
  tenantId: string;
  email: string;
  username: string;
  fullName: string;
  role: User["role"];
  passwordHash: string | null;
}

export interface UserRepository {
  create(user: NewUser): Promise<User>;
  findById(tenantId: string, id: string): Promise<User | null>;
  findByLogin(tenantId: string, login: string): Promise<User | null>;
  update(tenantId: string, id: string, changes: Partial<Omit<User, "id" | "tenantId" | "createdAt">>): Promise<User | null>;
}

export interface TenantRepository {
  findById(id: string): Promise<Tenant | null>;
  findBySlug(slug: string): Promise<Tenant | null>;
  findByDomain(domain: string): Promise<Tenant | null>;
  ensureDefault(): Promise<Tenant>;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  needsRehash(hash: string): boolean;
}

export interface CommonPasswords {
  has(password: string): boolean;
}

/** Counts failed sign-ins per account and per client IP; answers how long to wait when tripped. */
export interface LoginThrottle {
  retryAfterSeconds(keys: string[]): Promise<number>;
  recordFailure(keys: string[]): Promise<void>;
  reset(keys: string[]): Promise<void>;
}
