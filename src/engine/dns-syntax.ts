/**
 * Docker's syntax of --dns, --dns-search and --add-host, for clients (the CLI checks the flags with it): the pure
 * checks of container/etc-files.ts.
 */
export { checkDnsSearch, checkDnsServer, parseExtraHost } from '../container/etc-files.js';
