/**
 * Types of the Tessera HTTP API, taken from `generated/openapi.ts` (which openapi-typescript writes
 * from the BFF's OpenAPI document, itself generated from the BFF's route schemas: `npm run api`).
 * Only names are given here; no shape is written by hand.
 */
import type { components, paths } from './generated/openapi.ts';

type Schemas = components['schemas'];

export type Problem = Schemas['Problem'];
export type FieldProblem = NonNullable<Problem['errors']>[number];
export type Me = Schemas['User'];
export type User = Schemas['User'];
export type UserRole = User['role'];
export type UserStatus = User['status'];
export type AdminUser = Schemas['AdminUser'];
export type SignedInAccount = Schemas['Account'];
export type Chat = Schemas['Chat'];
export type Message = Schemas['Message'];
export type Model = Schemas['Model'];
export type Quota = Schemas['Quota'];
export type Session = Schemas['Session'];
export type ApiKey = Schemas['ApiKey'];
export type LinkedIdentity = Schemas['LinkedIdentity'];
export type UsageDay = Schemas['UsageDay'];
export type UsageSeries = Schemas['UsageSeries'];
export type ChatStreamEvent = Schemas['ChatStreamEvent'];

// ---- Per-operation types ---------------------------------------------------------------------

export type ApiPath = keyof paths;
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';
/** The methods a path serves. */
export type MethodOf<P extends ApiPath> = {
	[M in HttpMethod]: paths[P][M] extends { responses: unknown } ? M : never;
}[HttpMethod];
type Op<P extends ApiPath, M extends MethodOf<P>> = paths[P][M];

/** The JSON request body of an operation (never when it takes none). */
export type Body<P extends ApiPath, M extends MethodOf<P>> =
	Op<P, M> extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
/** The query parameters of an operation. */
export type Query<P extends ApiPath, M extends MethodOf<P>> =
	Op<P, M> extends { parameters: { query?: infer Q } } ? Q : never;
/** The path parameters of an operation. */
export type PathParams<P extends ApiPath, M extends MethodOf<P>> =
	Op<P, M> extends { parameters: { path: infer A } } ? A : never;
/** The successful JSON answer of an operation (undefined for 204). */
export type Reply<P extends ApiPath, M extends MethodOf<P>> =
	Op<P, M> extends { responses: { 200: { content: { 'application/json': infer R } } } }
		? R
		: Op<P, M> extends { responses: { 201: { content: { 'application/json': infer R } } } }
			? R
			: undefined;

export type AuthProvider = Reply<'/api/v1/auth/providers', 'get'>[number];
export type RegisterRequest = Body<'/api/v1/auth/register', 'post'>;
export type LoginRequest = Body<'/api/v1/auth/login', 'post'>;
export type CreatedApiKey = Reply<'/api/v1/me/api-keys', 'post'>;
export type DayUsage = Reply<'/api/v1/admin/usage', 'get'>;
export type AdminUserPatch = Body<'/api/v1/admin/users/{id}', 'patch'>;
export type TenantSettings = Schemas['TenantSettings'];
export type TenantSettingsPatch = Body<'/api/v1/admin/settings', 'patch'>;
export type UpstreamProvider = TenantSettings['providers'][number];
export type AuditEntry = Schemas['AuditEntry'];
export type Tenant = Schemas['Tenant'];
