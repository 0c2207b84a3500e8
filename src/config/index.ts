/** What the rest of the program uses from config. */
export { DURATION_EXPECTED, formatDuration, parseDuration } from './duration.js';
export { ConfigError, type ConfigErrorCode } from './errors.js';
export {
  type AnyFlag,
  BadValue,
  type FlagTable,
  type FlagValues,
  flagError,
  flagRows,
  type ParsedTable,
  parseTable,
  renderRows,
  switchFlag,
  valueFlag,
  wrap,
} from './flag-table.js';
export {
  CONFIG_FLAGS,
  DISCOVERY_FLAGS,
  DISCOVERY_MODES,
  type DiscoveryMode,
  duration,
  FLAGS,
  type Flags,
  filePath,
  flagsFrom,
  HELP_FLAGS,
  type IcmpMode,
  integer,
  LOG_FLAGS,
  oneOf,
  PROBE_FLAGS,
  parseFlags,
  VANTAGE_FLAGS,
  VERSION_FLAGS,
  WEB_FLAGS,
} from './flags.js';
export {
  buildConfig,
  EMBEDDED_DEFAULT_NODE,
  type ExporterConfig,
  type FileConfig,
  type LoadOptions,
  loadConfig,
  loadConfigFromFlags,
  parseConfigText,
  reloadConfig,
} from './load.js';
