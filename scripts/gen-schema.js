// Generates schema/plan.schema.json (JSON Schema draft-07) from the plan validator's zod
// schema, so the editor schema and the validator can never disagree. Run by `npm run build`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { planSchema } from '../dist/plan/schema.js';

const schema = z.toJSONSchema(planSchema, { target: 'draft-7', unrepresentable: 'any' });
const out = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'coord plan',
  ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
};
mkdirSync(new URL('../schema/', import.meta.url), { recursive: true });
writeFileSync(new URL('../schema/plan.schema.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
