/** A container's event attributes, and the helper step that lets its monitor write its own events. */
import { journalDir, journalFile } from './journal.js';

/** What of a container record its events name (structural: this folder sits below container/). */
export interface Named {
  ID: string;
  Name: string;
  Config: { Image?: string; Labels?: Record<string, string> | null };
}

/** Its labels, image and name, as dockerd gives them. */
export function containerAttrs(c: Omit<Named, 'ID'>): Record<string, string> {
  return { ...(c.Config.Labels ?? {}), image: c.Config.Image ?? '', name: c.Name.replace(/^\//, '') };
}

/** `event-journal PATH ID ATTRS`: the journal, the container and its fixed attributes (a JSON object's body). */
export function containerEventStep(root: string, c: Named): [string, ...string[]] {
  return ['event-journal', journalFile(journalDir(root)), c.ID, JSON.stringify(containerAttrs(c)).slice(1, -1)];
}
