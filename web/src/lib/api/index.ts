export { api, ApiClient, type RequestOptions } from './client.ts';
export { ApiError, isApiError, NETWORK_PROBLEM_TYPE } from './errors.ts';
export type * from './types.ts';
