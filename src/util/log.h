/* Logging: one line per event, to stderr, with a level and the subsystem.
 * Every log call site passes enough context (peer, topic-partition, api)
 * for an operator to act on it without a debugger. */
#ifndef GR_LOG_H
#define GR_LOG_H

enum { GR_LOG_DEBUG, GR_LOG_INFO, GR_LOG_WARN, GR_LOG_ERROR };

extern int gr_log_level;

void gr_log_emit(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define gr_debug(...) do { if (gr_log_level <= GR_LOG_DEBUG) gr_log_emit(GR_LOG_DEBUG, __VA_ARGS__); } while (0)
#define gr_info(...)  gr_log_emit(GR_LOG_INFO, __VA_ARGS__)
#define gr_warn(...)  gr_log_emit(GR_LOG_WARN, __VA_ARGS__)
#define gr_error(...) gr_log_emit(GR_LOG_ERROR, __VA_ARGS__)

#endif
