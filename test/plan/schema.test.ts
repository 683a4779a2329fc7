import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { fieldsAt, planSchema } from '../../src/plan/schema.js';

describe('planSchema', () => {
  const json = z.toJSONSchema(planSchema, { target: 'draft-7' }) as Record<string, unknown>;

  it('converts to a draft-07 JSON Schema with x- extension keys allowed', () => {
    expect(json['$schema']).toBe('http://json-schema.org/draft-07/schema#');
    expect(json['additionalProperties']).toBe(false);
    expect(json['patternProperties']).toEqual({ '^x-': {} });
    expect(json['required']).toEqual(['streams']);
    const text = JSON.stringify(json);
    expect(text).toContain('500ms, 30s, 5m, 1h');
    expect(text).toContain('"enum":["barrier","progressive","checkpoint"]');
  });

  it('describes stream fields', () => {
    const streams = (json['properties'] as Record<string, { items: { properties: Record<string, { description?: string }>; required: string[] } }>)['streams'];
    expect(streams?.items.required).toEqual(['id', 'command']);
    expect(streams?.items.properties['depends_on']?.description).toMatch(/convergence point/);
  });

  it('lists the fields of nested objects for typo hints', () => {
    expect(fieldsAt(['streams', 0])).toContain('depends_on');
    expect(fieldsAt(['agent_coordination', 'recovery', 'guardian'])).toEqual(['auto_invoke', 'grace', 'max_restarts', 'command', 'soft']);
    expect(fieldsAt(['streams', 0, 'env'])).toEqual([]);
    expect(fieldsAt(['nope'])).toEqual([]);
  });
});
