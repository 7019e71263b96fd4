import type { Command } from '../context.js';

/**
 * Every CLI verb, loaded on demand: main.ts matches the leading words here and
 * imports only that command's module (start-up time is what users wait for).
 */
export interface CommandEntry {
  names: string[][];
  summary: string;
  load: () => Promise<Command>;
  /** Left out of the help's lists (run by berth itself: the monitor, the completion scripts). */
  hidden?: boolean;
}

const entry = (names: string[][], summary: string, load: () => Promise<Command>, hidden?: boolean): CommandEntry => ({
  names,
  summary,
  load,
  ...(hidden ? { hidden } : {}),
});

export const commands: CommandEntry[] = [
  entry(
    [['run'], ['container', 'run']],
    'Create and run a new container from an image',
    async () => (await import('./run.js')).run,
  ),
  entry([['create'], ['container', 'create']], 'Create a new container', async () => (await import('./run.js')).create),
  entry(
    [['start'], ['container', 'start']],
    'Start one or more stopped containers (in the foreground with -a)',
    async () => (await import('./run.js')).start,
  ),
  entry(
    [['stop'], ['container', 'stop']],
    'Stop one or more running containers',
    async () => (await import('./lifecycle.js')).stop,
  ),
  entry(
    [['restart'], ['container', 'restart']],
    'Restart one or more containers',
    async () => (await import('./lifecycle.js')).restart,
  ),
  entry(
    [['kill'], ['container', 'kill']],
    'Kill one or more running containers',
    async () => (await import('./lifecycle.js')).kill,
  ),
  entry(
    [['wait'], ['container', 'wait']],
    'Block until one or more containers stop, then print their exit codes',
    async () => (await import('./lifecycle.js')).wait,
  ),
  entry(
    [['pause'], ['container', 'pause']],
    'Pause all processes within one or more containers',
    async () => (await import('./lifecycle.js')).pause,
  ),
  entry(
    [['unpause'], ['container', 'unpause']],
    'Unpause all processes within one or more containers',
    async () => (await import('./lifecycle.js')).unpause,
  ),
  entry(
    [['update'], ['container', 'update']],
    'Update configuration (resource limits, restart policy) of one or more containers',
    async () => (await import('./update.js')).update,
  ),
  entry(
    [['stats'], ['container', 'stats']],
    'Display a live stream of container(s) resource usage statistics',
    async () => (await import('./stats.js')).stats,
  ),
  entry(
    [['rename'], ['container', 'rename']],
    'Rename a container',
    async () => (await import('./lifecycle.js')).rename,
  ),
  entry(
    [['container', 'prune']],
    'Remove all stopped containers',
    async () => (await import('./lifecycle.js')).containerPrune,
  ),
  entry(
    [['container', 'cleanup']],
    'Record the end of a stopped container and unmount it (run by the container monitor)',
    async () => (await import('./lifecycle.js')).containerCleanup,
    true,
  ),
  entry(
    [['exec'], ['container', 'exec']],
    'Execute a command in a running container',
    async () => (await import('./exec.js')).exec,
  ),
  entry(
    [['attach'], ['container', 'attach']],
    'Attach local standard input, output, and error streams to a running container',
    async () => (await import('./attach.js')).attach,
  ),
  entry(
    [['port'], ['container', 'port']],
    'List port mappings or a specific mapping for the container',
    async () => (await import('./port.js')).port,
  ),
  entry(
    [['top'], ['container', 'top']],
    'Display the running processes of a container',
    async () => (await import('./top.js')).top,
  ),
  entry(
    [['logs'], ['container', 'logs']],
    'Fetch the logs of a container',
    async () => (await import('./logs.js')).logs,
  ),
  entry(
    [['ps'], ['container', 'ls'], ['container', 'list'], ['container', 'ps']],
    'List containers',
    async () => (await import('./ps.js')).ps,
  ),
  entry(
    [['rm'], ['container', 'rm'], ['container', 'remove']],
    'Remove one or more containers',
    async () => (await import('./rm.js')).rm,
  ),
  entry(
    [['diff'], ['container', 'diff']],
    "Inspect changes to files or directories on a container's filesystem",
    async () => (await import('./diff.js')).diff,
  ),
  entry(
    [['build'], ['image', 'build'], ['builder', 'build']],
    'Build an image from a Dockerfile',
    async () => (await import('./build.js')).buildCmd,
  ),
  entry(
    [['commit'], ['container', 'commit']],
    "Create a new image from a container's changes",
    async () => (await import('./commit.js')).commit,
  ),
  entry(
    [['cp'], ['container', 'cp']],
    'Copy files/folders between a container and the local filesystem',
    async () => (await import('./cp.js')).cp,
  ),
  entry(
    [['export'], ['container', 'export']],
    "Export a container's filesystem as a tar archive",
    async () => (await import('./export.js')).exportCmd,
  ),
  entry(
    [['images'], ['image', 'ls'], ['image', 'list']],
    'List images',
    async () => (await import('./images.js')).images,
  ),
  entry(
    [['import'], ['image', 'import']],
    'Import the contents from a tarball to create a filesystem image',
    async () => (await import('./import.js')).importCmd,
  ),
  entry(
    [['pull'], ['image', 'pull']],
    'Download an image from a registry',
    async () => (await import('./pull.js')).pull,
  ),
  entry([['push'], ['image', 'push']], 'Upload an image to a registry', async () => (await import('./push.js')).push),
  entry([['login']], 'Log in to a registry', async () => (await import('./login.js')).login),
  entry([['logout']], 'Log out from a registry', async () => (await import('./login.js')).logout),
  entry(
    [['load'], ['image', 'load']],
    'Load an image from a tar archive (docker-archive or OCI layout) or STDIN',
    async () => (await import('./load.js')).load,
  ),
  entry(
    [['save'], ['image', 'save']],
    'Save one or more images to a tar archive (docker-archive and OCI layout in one)',
    async () => (await import('./save.js')).save,
  ),
  entry(
    [['tag'], ['image', 'tag']],
    'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
    async () => (await import('./tag.js')).tag,
  ),
  entry(
    [['rmi'], ['image', 'rm'], ['image', 'remove']],
    'Remove one or more images',
    async () => (await import('./rmi.js')).rmi,
  ),
  entry(
    [['history'], ['image', 'history']],
    'Show the history of an image',
    async () => (await import('./history.js')).history,
  ),
  entry(
    [['inspect']],
    'Return low-level information on berth objects',
    async () => (await import('./inspect.js')).inspect,
  ),
  entry(
    [['container', 'inspect']],
    'Display detailed information on one or more containers',
    async () => (await import('./inspect.js')).containerInspect,
  ),
  entry(
    [['image', 'inspect']],
    'Display detailed information on one or more images (--layers: the walk through the store)',
    async () => (await import('./inspect.js')).imageInspect,
  ),
  entry(
    [['image', 'layers']],
    "Show an image's layers as stored: diffIDs, chainIDs, cache-ids, links, lowers, mount options",
    async () => (await import('./layers.js')).imageLayers,
  ),
  entry(
    [['image', 'from-host']],
    'Make a FROM-scratch image of host programs and the shared libraries they load',
    async () => (await import('./from-host.js')).fromHost,
  ),
  entry(
    [['image', 'prune']],
    'Remove unused images (dangling only, or all unused with -a)',
    async () => (await import('./prune.js')).imagePrune,
  ),
  entry(
    [['system', 'prune']],
    'Remove stopped containers, dangling (-a: unused) images and partial downloads',
    async () => (await import('./system-prune.js')).systemPrune,
  ),
  entry([['system', 'df']], 'Show berth disk usage', async () => (await import('./system-df.js')).systemDf),
  entry([['version']], 'Show the berth version information', async () => (await import('./version.js')).version),
  entry(
    [['info'], ['system', 'info']],
    'Display system-wide information',
    async () => (await import('./info.js')).info,
  ),
  entry(
    [['builder', 'prune']],
    'Remove build cache (the partial downloads of interrupted pulls)',
    async () => (await import('./builder-prune.js')).builderPrune,
  ),
  entry(
    [['events'], ['system', 'events']],
    'Get real time events from the server',
    async () => (await import('./events.js')).events,
  ),
  entry(
    [['system', 'check']],
    'Verify the whole store; --repair removes leftovers of interrupted work',
    async () => (await import('./system-check.js')).systemCheck,
  ),
  entry([['volume', 'create']], 'Create a volume', async () => (await import('./volume.js')).volumeCreate),
  entry(
    [
      ['volume', 'ls'],
      ['volume', 'list'],
    ],
    'List volumes',
    async () => (await import('./volume.js')).volumeLs,
  ),
  entry(
    [['volume', 'inspect']],
    'Display detailed information on one or more volumes',
    async () => (await import('./volume.js')).volumeInspect,
  ),
  entry(
    [
      ['volume', 'rm'],
      ['volume', 'remove'],
    ],
    'Remove one or more volumes',
    async () => (await import('./volume.js')).volumeRm,
  ),
  entry([['volume', 'prune']], 'Remove unused local volumes', async () => (await import('./volume.js')).volumePrune),
  entry([['network', 'create']], 'Create a network', async () => (await import('./network.js')).networkCreate),
  entry(
    [
      ['network', 'ls'],
      ['network', 'list'],
    ],
    'List networks',
    async () => (await import('./network.js')).networkLs,
  ),
  entry(
    [['network', 'inspect']],
    'Display detailed information on one or more networks',
    async () => (await import('./network.js')).networkInspect,
  ),
  entry(
    [
      ['network', 'rm'],
      ['network', 'remove'],
    ],
    'Remove one or more networks',
    async () => (await import('./network.js')).networkRm,
  ),
  entry([['network', 'prune']], 'Remove all unused networks', async () => (await import('./network.js')).networkPrune),
  entry(
    [['network', 'connect']],
    'Connect a container to a network',
    async () => (await import('./network.js')).networkConnect,
  ),
  entry(
    [['network', 'disconnect']],
    'Disconnect a container from a network',
    async () => (await import('./network.js')).networkDisconnect,
  ),
  entry(
    [['completion', 'bash']],
    'Generate the autocompletion script for bash',
    async () => (await import('./completion.js')).completionBash,
  ),
  entry(
    [['completion', 'zsh']],
    'Generate the autocompletion script for zsh',
    async () => (await import('./completion.js')).completionZsh,
  ),
  entry(
    [['__complete']],
    'Print the completions of a command line (for the completion scripts)',
    async () => (await import('./completion.js')).complete,
    true,
  ),
];
