// What a todo is. weftdb checks every local write against it (any Standard
// Schema validator works: zod here) and refuses what does not fit, writing
// nothing; TypeScript users get the document type from it too.
import { z } from 'zod';

export const Todo = z.object({
  title: z.string().trim().min(1, 'a todo needs a title').max(200, 'at most 200 characters'),
  done: z.boolean().default(false),
  created: z.number().int(),
});
