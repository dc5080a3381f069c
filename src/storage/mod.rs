//! Storage for containers: the overlay root filesystem (docker's overlay2 graph driver).
//! Volumes, bind mounts and tmpfs come with the storage issue and will live here too.

pub mod overlay;
