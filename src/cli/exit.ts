/** The exit statuses every one-shot command keeps. */

/** Everything required is as it should be. */
export const EXIT_OK = 0;
/** Something required is not, or the command could not find out. */
export const EXIT_FAILED = 1;
/** Bad flags or config: main prints the ConfigError in one line. */
export const EXIT_BAD_INPUT = 2;
