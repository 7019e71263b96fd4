/**
 * The client side of registry credentials, for the CLI and for Node programs: the caller's
 * ~/.docker/config.json (auths, credsStore, credHelpers) read and written as the docker CLI does.
 * The engine itself never reads it: credentials reach its operations as input.
 */
export {
  configPath,
  eraseCredentials,
  getCredentials,
  readDockerConfig,
  storeCredentials,
  storeKey,
} from '../registry/docker-config.js';
export { DOCKER_HUB_AUTH_KEY } from '../registry/names.js';
