// Why a young person's records are read (PRIVACY.md rule 11: who, when,
// what, why). Before the UI reads a young person's records it asks the
// practitioner for a purpose from the server's list (the taxonomy's
// read_purposes) and, for "other", a short reason; the server logs it with
// the read and refuses a read without one. The answer is kept for that young
// person while the page is open, so re-reading after a change asks nothing.
import { openDialog } from './dialog.js';

/**
 * Ask why; resolves to {purpose, purpose_note} (the note only for the
 * purpose the server says needs one), or null when the practitioner cancels.
 * purposes is the taxonomy's {list, noteFor, noteMax} (taxonomy.js).
 */
export function askPurpose({ list, noteFor: other, noteMax }) {
  const otherLabel = (list.find((p) => p.code === other) || { label: other }).label;
  return new Promise((resolve) => {
    openDialog({
      title: "Why are you opening this young person's records?",
      fields: [
        { name: 'purpose', label: 'Purpose', type: 'select', required: true, options: list.map((p) => ({ value: p.code, label: p.label })) },
        { name: 'purpose_note', label: `Reason, for ${otherLabel.toLowerCase()}`,
          hint: `Only for ${otherLabel.toLowerCase()}: a few words (at most ${noteMax} characters), no names or ids. It is kept in the audit log with the read.` },
      ],
      submitLabel: 'Open the records',
      onSubmit: async (v) => {
        if (v.purpose === other && !v.purpose_note) throw new Error('Say in a few words why you are opening the records.');
        if (v.purpose !== other && v.purpose_note) throw new Error(`A reason is only for ${otherLabel.toLowerCase()}: leave it empty, or choose ${otherLabel.toLowerCase()}.`);
        resolve(v.purpose === other ? { purpose: v.purpose, purpose_note: v.purpose_note } : { purpose: v.purpose });
      },
      onCancel: () => resolve(null),
    });
  });
}

/** Remembers each young person's purpose for this page. */
export class Purposes {
  constructor(purposes) {
    this.purposes = purposes;
    this.known = new Map();
  }

  /** The purpose of reading subject: the one given before, or asked now (null: cancelled). */
  async for(subject) {
    if (this.known.has(subject)) return this.known.get(subject);
    const why = await askPurpose(this.purposes);
    if (why) this.known.set(subject, why);
    return why;
  }

  /** Forget subject's purpose (the server refused it). */
  forget(subject) { this.known.delete(subject); }
}
