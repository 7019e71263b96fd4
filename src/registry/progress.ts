/**
 * A pull's progress as Docker's JSON messages (the Engine API's stream): a status,
 * the short id of the layer it is about, and bytes done of the layer's size.
 */
export interface PullEvent {
  status: string;
  id?: string;
  progressDetail?: { current: number; total: number };
}
