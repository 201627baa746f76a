import { z } from "./validate.ts";

/** The one pagination shape: `limit` (1-100, default 50) and an opaque `cursor`. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional(),
};
