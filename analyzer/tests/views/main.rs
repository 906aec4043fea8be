//! The syscall views (`summary`, `print`) driven as a user would, on hand-made traces whose
//! expected output was written from real strace runs, and on synthetic traces for volume.

mod fixture;
mod print;
mod summary;
