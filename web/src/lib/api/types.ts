/** Types of the Tessera HTTP API (`/api/v1`) used by the web app. */

/** One validation failure inside a problem document. */
export interface FieldProblem {
	field: string;
	message: string;
}

/** RFC 9457 problem details (`application/problem+json`). */
export interface Problem {
	type: string;
	title: string;
	status: number;
	detail?: string;
	instance?: string;
	errors?: FieldProblem[];
}

export type UserRole = 'user' | 'admin' | 'owner' | 'moderator' | (string & {});
export type UserStatus = 'active' | 'pending' | 'suspended' | 'banned' | (string & {});

/** `GET /api/v1/me` */
export interface Me {
	id: string;
	tenantId: string;
	email: string;
	username: string;
	fullName: string | null;
	avatarUrl: string | null;
	role: UserRole;
	status: UserStatus;
	trustLevel: number | string | null;
	premiumUntil: string | null;
	isPremium: boolean;
	hasPassword: boolean;
	createdAt: string;
}

/** The `user` object returned by register, login and account switch. */
export type AuthUser = Partial<Me> & { id: string };

export interface UserResponse {
	user: AuthUser;
}

/** One entry of `GET /api/v1/accounts`: an account signed in on this device. */
export interface SignedInAccount {
	userId: string;
	email: string;
	username: string;
	displayName: string | null;
	avatarUrl: string | null;
	active: boolean;
}

/** One entry of `GET /api/v1/auth/providers`. */
export interface AuthProvider {
	id: string;
	name: string;
	type: string;
}

export interface RegisterRequest {
	email: string;
	username: string;
	password: string;
	fullName?: string;
}

export interface LoginRequest {
	/** Email or username. */
	login: string;
	password: string;
	rememberMe?: boolean;
}

export interface CsrfResponse {
	token: string;
}
