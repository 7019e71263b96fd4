/** Where the networks' host-wide state lives (gone at a reboot with the namespaces and rules it describes). */
export const RUN_DIR = '/run/berth';
export const CNI_DIR = `${RUN_DIR}/cni`;
/** cni/results/<id>.json: what the default bridge's ADD returned, for DEL. */
export const RESULTS_DIR = `${CNI_DIR}/results`;
