import { z } from 'zod';

export const errorResponseSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string(),
      param: z.string().nullable(),
      code: z.string().nullable(),
    }),
  })
  .meta({ id: 'ErrorResponse', description: "OpenAI's error shape." });
