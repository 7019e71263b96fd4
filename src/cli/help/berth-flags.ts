/** The one-line help of berth's flags that Docker's CLI does not have (or hides): [value type, text]. */
export const berthFlagText: Record<string, Record<string, readonly [string, string]>> = {
  run: {
    net: ['string', 'Connect a container to a network (as --network)'],
    'dns-opt': ['list', 'Set DNS options (as --dns-option)'],
  },
  create: {
    net: ['string', 'Connect a container to a network (as --network)'],
    'dns-opt': ['list', 'Set DNS options (as --dns-option)'],
  },
  stop: { time: ['int', 'Seconds to wait before killing the container (as --timeout)'] },
  restart: { time: ['int', 'Seconds to wait before killing the container (as --timeout)'] },
  build: { progress: ['string', 'Set type of progress output ("auto", "plain", "tty")'] },
  push: { compression: ['string', 'Compress new layers with "gzip" or "zstd"'] },
  inspect: { layers: ['', "With an image: show the walk through the store (as 'berth image layers')"] },
  'container inspect': { layers: ['', "With an image: show the walk through the store (as 'berth image layers')"] },
  'image inspect': { layers: ['', "Show the walk through the store (as 'berth image layers')"] },
  'system check': {
    repair: ['', 'Remove leftovers of interrupted work'],
    quick: ['', 'Skip hashing layer contents'],
  },
};
