/** EMA teacher: a copy of (part of) the student whose weights trail it. */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module.js';
import { ShapeError } from '../errors.js';

export interface EmaDecayOptions {
  start: number;
  end: number;
  annealSteps: number;
}

/** Decay tau at `step`: linear from start to end over annealSteps updates, end afterwards. */
export function emaDecay(step: number, { start, end, annealSteps }: EmaDecayOptions): number {
  if (annealSteps <= 0 || step >= annealSteps) return end;
  return start + ((end - start) * Math.max(step, 0)) / annealSteps;
}

/**
 * Holds `teacher`, a module with the same parameter names and shapes as
 * `student`, never trainable. The caller decides what the student is: the
 * Transformer only (speech, text) or encoder + Transformer (official vision).
 */
export class EmaTeacher<M extends Module = Module> {
  private readonly pairs: { student: tf.Variable; teacher: tf.Variable }[] = [];

  constructor(
    readonly student: Module,
    readonly teacher: M,
  ) {
    const s = student.variables();
    const t = teacher.variables();
    if (s.size !== t.size) throw new ShapeError(`EmaTeacher: student has ${s.size} parameters, teacher ${t.size}`);
    for (const [name, sv] of s) {
      const tv = t.get(name);
      if (!tv || !tf.util.arraysEqual(tv.shape, sv.shape)) {
        throw new ShapeError(`EmaTeacher: teacher parameter ${name} is missing or has another shape`);
      }
      tv.trainable = false;
      this.pairs.push({ student: sv, teacher: tv });
    }
    teacher.setTraining(false);
    this.resetToStudent();
  }

  /** teacher = tau * teacher + (1 - tau) * student, for every parameter. */
  update(tau: number): void {
    if (tau >= 1) return;
    tf.tidy(() => {
      for (const { student, teacher } of this.pairs) {
        teacher.assign(tf.add(tf.mul(teacher, tau), tf.mul(student, 1 - tau)));
      }
    });
  }

  /** Copies the student's weights into the teacher. */
  resetToStudent(): void {
    tf.tidy(() => {
      for (const { student, teacher } of this.pairs) teacher.assign(student);
    });
  }

  dispose(): void {
    this.teacher.dispose();
  }
}
