/**
 * Enough of Docker's build semantics to replay this project's Dockerfile without a
 * Docker engine (none runs on the project's machines): the instructions, .dockerignore
 * as BuildKit applies it, and a replay of each stage in a directory that stands in for
 * the stage's root filesystem, RUN steps run by /bin/sh on this machine. Only the
 * instructions the Dockerfile uses are known; any other stops the replay, so a change
 * to the Dockerfile cannot be skipped over silently.
 */
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { collect } from '../helpers/node-child.js';

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** 1-based line where the instruction starts, for messages. */
  readonly line: number;
}

/** Instructions in order; comments, parser directives and blank lines dropped, `\` lines joined. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (pending === undefined && (line === '' || line.startsWith('#'))) return;
    if (pending !== undefined && line.startsWith('#')) return;
    const continued = line.endsWith('\\');
    const part = continued ? line.slice(0, -1).trim() : line;
    pending = pending
      ? { ...pending, text: `${pending.text} ${part}` }
      : { text: part, line: index + 1 };
    if (continued) return;
    const match = /^(\S+)\s*(.*)$/.exec(pending.text);
    if (match) {
      instructions.push({
        keyword: (match[1] ?? '').toUpperCase(),
        args: match[2] ?? '',
        line: pending.line,
      });
    }
    pending = undefined;
  });
  return instructions;
}

export interface Stage {
  readonly image: string;
  readonly name?: string;
  readonly instructions: readonly Instruction[];
}

/** The stages, FROM images with the global ARG defaults substituted. */
export function stagesOf(instructions: readonly Instruction[]): Stage[] {
  const globalArgs: Record<string, string> = {};
  const stages: { image: string; name?: string; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image = '', as, name] = instruction.args.split(/\s+/);
      const resolved = image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => globalArgs[a ?? b] ?? '');
      stages.push({
        image: resolved,
        ...(as?.toUpperCase() === 'AS' && name ? { name } : {}),
        instructions: [],
      });
      continue;
    }
    const current = stages.at(-1);
    if (current) {
      current.instructions.push(instruction);
    } else if (instruction.keyword === 'ARG') {
      const [key = '', value = ''] = instruction.args.split('=');
      globalArgs[key] = value;
    } else {
      throw new Error(`line ${instruction.line}: ${instruction.keyword} before the first FROM`);
    }
  }
  return stages;
}

/** Splits `--from=build --chown=x a b ./` into flags and words. */
function words(args: string): { flags: Record<string, string>; words: string[] } {
  const flags: Record<string, string> = {};
  const rest: string[] = [];
  for (const word of args.split(/\s+/).filter(Boolean)) {
    const flag = /^--([\w-]+)=(.*)$/.exec(word);
    if (flag) flags[flag[1] as string] = flag[2] as string;
    else rest.push(word);
  }
  return { flags, words: rest };
}

/** COPY's sources and destination. */
export function copyArgs(instruction: Instruction): {
  from?: string;
  sources: string[];
  dest: string;
} {
  const { flags, words: parts } = words(instruction.args);
  const dest = parts.pop();
  if (dest === undefined || parts.length === 0)
    throw new Error(`line ${instruction.line}: COPY needs a source and a destination`);
  return { ...(flags.from === undefined ? {} : { from: flags.from }), sources: parts, dest };
}

/** A .dockerignore pattern as BuildKit's pattern matcher reads it. */
interface IgnoreRule {
  readonly regexp: RegExp;
  readonly exclusion: boolean;
  readonly text: string;
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] as string;
    if (char === '*' && glob[i + 1] === '*') {
      source += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const exclusion = line.startsWith('!');
      const pattern = posix
        .normalize((exclusion ? line.slice(1) : line).trim())
        .replace(/^\/+/, '');
      return { regexp: globToRegExp(pattern), exclusion, text: pattern };
    });
}

/**
 * True when the build context keeps `path` (relative, with `/`): the last pattern that
 * matches the path or one of its parent directories decides (moby/patternmatcher's
 * MatchesOrParentMatches).
 */
export function keptInContext(rules: readonly IgnoreRule[], path: string): boolean {
  const parents = path.split('/').slice(0, -1);
  let ignored = false;
  for (const rule of rules) {
    if (rule.exclusion !== ignored) continue;
    let match = rule.regexp.test(path);
    for (let i = 1; !match && i <= parents.length; i++) {
      match = rule.regexp.test(parents.slice(0, i).join('/'));
    }
    if (match) ignored = !rule.exclusion;
  }
  return !ignored;
}

/** Copies the files of `repo` that the build context keeps into `into`; returns their paths. */
export function buildContext(repo: string, rules: readonly IgnoreRule[], into: string): string[] {
  const kept: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(repo, dir), { withFileTypes: true })) {
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        // An ignored directory is entered only when a `!` pattern may take back part of it.
        const mayReinclude = rules.some(
          (rule) => rule.exclusion && rule.text.startsWith(`${path}/`),
        );
        if (keptInContext(rules, path) || mayReinclude) walk(path);
      } else if (keptInContext(rules, path)) {
        mkdirSync(join(into, dir), { recursive: true });
        cpSync(join(repo, path), join(into, path));
        kept.push(path);
      }
    }
  };
  walk('');
  return kept;
}

export interface ReplayedStage {
  readonly name?: string;
  /** The directory that stands in for the stage's root filesystem. */
  readonly root: string;
  readonly workdir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly user?: string;
  readonly entrypoint?: readonly string[];
}

export interface ReplayOptions {
  /** The build context (already filtered by .dockerignore). */
  readonly context: string;
  /** Stage roots are made under here. */
  readonly scratch: string;
  /** Added to every RUN's environment (this machine's settings, not the Dockerfile's). */
  readonly runEnv?: Readonly<Record<string, string>>;
  /** Gets each RUN's output, for failure messages. */
  readonly log?: (line: string) => void;
  /** Per RUN step. */
  readonly runTimeoutMs?: number;
}

/** Replays every stage in order; returns them, the last one being the image. */
export async function replay(
  stages: readonly Stage[],
  options: ReplayOptions,
): Promise<ReplayedStage[]> {
  const done: ReplayedStage[] = [];
  for (const [index, stage] of stages.entries()) {
    const root = join(options.scratch, `stage-${index}`);
    mkdirSync(root, { recursive: true });
    chmodSync(root, 0o755);
    let workdir = '/';
    const env: Record<string, string> = {};
    let user: string | undefined;
    let entrypoint: string[] | undefined;
    const inRoot = (path: string) => join(root, posix.resolve(workdir, path));
    for (const instruction of stage.instructions) {
      const where = `${stage.name ?? `stage ${index}`}, line ${instruction.line}`;
      switch (instruction.keyword) {
        case 'WORKDIR':
          workdir = posix.resolve(workdir, instruction.args);
          mkdirSync(join(root, workdir), { recursive: true });
          break;
        case 'ENV':
          for (const [, key, value] of instruction.args.matchAll(/(\w+)=("[^"]*"|\S*)/g)) {
            env[key as string] = (value as string).replace(/^"|"$/g, '');
          }
          break;
        case 'COPY': {
          const { from, sources, dest } = copyArgs(instruction);
          const source = from === undefined ? undefined : done.find((stage) => stage.name === from);
          if (from !== undefined && !source) throw new Error(`${where}: no stage named ${from}`);
          const target = inRoot(dest);
          for (const path of sources) {
            const origin = source ? join(source.root, path) : join(options.context, path);
            if (!existsSync(origin)) {
              throw new Error(
                `${where}: COPY source ${path} is not in the ${source ? `stage ${from}` : 'build context'}`,
              );
            }
            // A directory's contents are copied; a file into a directory that `dest/` names.
            const into =
              statSync(origin).isDirectory() || !dest.endsWith('/')
                ? target
                : join(target, basename(path));
            mkdirSync(statSync(origin).isDirectory() ? into : join(into, '..'), {
              recursive: true,
            });
            // Symlinks as they are (node_modules/.bin), as Docker copies them.
            cpSync(origin, into, { recursive: true, verbatimSymlinks: true });
          }
          break;
        }
        case 'RUN': {
          if (instruction.args.startsWith('['))
            throw new Error(`${where}: exec-form RUN is not replayed`);
          options.log?.(`# ${where}: RUN ${instruction.args}`);
          const child = spawn('/bin/sh', ['-c', instruction.args], {
            cwd: join(root, workdir),
            env: { ...process.env, ...options.runEnv, ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          const timer = setTimeout(() => child.kill('SIGKILL'), options.runTimeoutMs ?? 300_000);
          const result = await collect(child);
          clearTimeout(timer);
          options.log?.(result.stdout + result.stderr);
          if (result.code !== 0) {
            throw new Error(
              `${where}: RUN failed (${result.code ?? result.signal}):\n${result.stdout}${result.stderr}`,
            );
          }
          break;
        }
        case 'USER':
          user = instruction.args;
          break;
        case 'ENTRYPOINT':
          entrypoint = JSON.parse(instruction.args) as string[];
          break;
        case 'LABEL':
        case 'EXPOSE':
        case 'ARG':
          break;
        default:
          throw new Error(`${where}: the replay does not know ${instruction.keyword}`);
      }
    }
    done.push({
      ...(stage.name === undefined ? {} : { name: stage.name }),
      root,
      workdir,
      env,
      ...(user === undefined ? {} : { user }),
      ...(entrypoint === undefined ? {} : { entrypoint }),
    });
  }
  return done;
}

/** A path inside a replayed stage, as this machine sees it. */
export function hostPath(stage: ReplayedStage, path: string): string {
  return join(stage.root, posix.resolve(stage.workdir, path));
}
