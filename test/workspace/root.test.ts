import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createWorkspace, prepareWorkspaceRoot, WorkspaceError } from '../../src/workspace/root.js';
import { isRoot, makeTemp, modeOf, removeTemp } from './fsfix.js';

let tmp: string;
beforeEach(async () => {
  tmp = await makeTemp();
});
afterEach(async () => {
  await removeTemp(tmp);
});

describe('prepareWorkspaceRoot', () => {
  it('creates a missing root, with its parents, mode 0700', async () => {
    const root = path.join(tmp, 'a', 'b', 'streams');
    await prepareWorkspaceRoot(root);
    expect((await fs.lstat(root)).isDirectory()).toBe(true);
    expect(await modeOf(root)).toBe(0o700);
  });

  it('accepts an existing directory of ours and leaves it as it is', async () => {
    await fs.writeFile(path.join(tmp, 'keep.txt'), 'x');
    await expect(prepareWorkspaceRoot(tmp)).resolves.toBeUndefined();
    expect(await fs.readFile(path.join(tmp, 'keep.txt'), 'utf8')).toBe('x');
  });

  it('refuses a symbolic link, naming it', async () => {
    const real = path.join(tmp, 'real');
    await fs.mkdir(real);
    const link = path.join(tmp, 'link');
    await fs.symlink(real, link);
    const err = await prepareWorkspaceRoot(link).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceError);
    expect((err as WorkspaceError).message).toContain(link);
    expect((err as WorkspaceError).message).toMatch(/symbolic link/);
    expect((err as WorkspaceError).path).toBe(link);
  });

  it('refuses a file', async () => {
    const file = path.join(tmp, 'file');
    await fs.writeFile(file, '');
    await expect(prepareWorkspaceRoot(file)).rejects.toThrow(/not a directory/);
    await expect(prepareWorkspaceRoot(file)).rejects.toBeInstanceOf(WorkspaceError);
  });

  (isRoot ? it : it.skip)('refuses a directory owned by another user', async () => {
    const other = path.join(tmp, 'other');
    await fs.mkdir(other);
    await fs.chown(other, 12345, 12345);
    await expect(prepareWorkspaceRoot(other)).rejects.toThrow(/owned by uid 12345/);
  });
});

describe('createWorkspace', () => {
  it('creates a fresh workspace with mode 0700 (and its run directory)', async () => {
    const ws = path.join(tmp, 'run-1', 'research');
    await createWorkspace(ws);
    expect(await modeOf(ws)).toBe(0o700);
    expect(await fs.readdir(ws)).toEqual([]);
  });

  it('refuses to reuse an existing directory as a fresh workspace (EEXIST)', async () => {
    const ws = path.join(tmp, 'ws');
    await createWorkspace(ws);
    const err = await createWorkspace(ws).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceError);
    expect((err as Error).message).toContain(ws);
    expect((err as Error).message).toMatch(/already exists/);
  });

  it('fresh: false creates a missing explicit path and reuses an existing one', async () => {
    const ws = path.join(tmp, 'explicit', 'code');
    await createWorkspace(ws, { fresh: false });
    expect(await modeOf(ws)).toBe(0o700);
    await fs.writeFile(path.join(ws, 'kept'), 'x');
    await createWorkspace(ws, { fresh: false });
    expect(await fs.readFile(path.join(ws, 'kept'), 'utf8')).toBe('x');
  });

  it('fresh: false refuses a symbolic link and a file', async () => {
    await fs.mkdir(path.join(tmp, 'real'));
    await fs.symlink(path.join(tmp, 'real'), path.join(tmp, 'link'));
    await fs.writeFile(path.join(tmp, 'file'), '');
    await expect(createWorkspace(path.join(tmp, 'link'), { fresh: false })).rejects.toThrow(/symbolic link/);
    await expect(createWorkspace(path.join(tmp, 'file'), { fresh: false })).rejects.toThrow(/not a directory/);
  });

  (isRoot ? it : it.skip)('fresh: false refuses a directory owned by another user', async () => {
    const other = path.join(tmp, 'other');
    await fs.mkdir(other);
    await fs.chown(other, 12345, 12345);
    await expect(createWorkspace(other, { fresh: false })).rejects.toBeInstanceOf(WorkspaceError);
  });
});
