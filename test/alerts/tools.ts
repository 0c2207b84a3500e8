/** Running the real promtool, and failing plainly when a tool is missing. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The path of a tool from Debian, or an error naming the package to install. */
export function requireTool(path: string, debianPackage: string): string {
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: install Debian's ${debianPackage} package (apt-get install ${debianPackage})`,
    );
  }
  return path;
}

export const PROMTOOL = '/usr/bin/promtool';

export interface ToolRun {
  readonly status: number | null;
  /** stdout and stderr together, for assertion messages. */
  readonly output: string;
}

export function promtool(args: readonly string[], cwd?: string): ToolRun {
  const run = spawnSync(requireTool(PROMTOOL, 'prometheus'), args, {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
