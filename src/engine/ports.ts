/**
 * Docker's port syntax and display, for clients (the CLI parses -p with it and prints PORTS with it): the pure
 * functions of network/ports.ts.
 */
export {
  displayPorts,
  exposedPorts,
  parsePublish,
  portBindings,
  portLines,
  portRows,
  type PortBinding,
  type PortMap,
} from '../network/ports.js';
