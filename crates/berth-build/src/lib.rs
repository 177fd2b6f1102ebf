//! Build sources: git resolution, the archive of a commit filtered by .dockerignore, runtime detection and generated Dockerfiles.
