/** What the rest of the program uses from config. */
export { DURATION_EXPECTED, formatDuration, parseDuration } from './duration.js';
export { ConfigError, type ConfigErrorCode } from './errors.js';
export {
  COMMANDS,
  type Command,
  type CommandFlags,
  type Flags,
  helpText,
  type IcmpMode,
  parseFlags,
} from './flags.js';
export {
  buildConfig,
  EMBEDDED_DEFAULT_NODE,
  type ExporterConfig,
  type FileConfig,
  type LoadOptions,
  loadConfig,
  parseConfigText,
  reloadConfig,
} from './load.js';
