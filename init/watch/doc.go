// Package watch tells tinit when the files behind --reload-on changed: an
// inotify watcher that turns bursts of events into one Change each, for
// the supervisor to act on (a signal to the child, or a restart).
//
// Invariants:
//
//   - One goroutine, the one running Run, owns the watches, the table of
//     watch descriptors, the burst being collected and its timer; nothing
//     else touches them. New sets them up before Run starts, and Close only
//     closes the fd and a channel. Close's read of Run's error is the one
//     thing under a mutex.
//   - The inotify fd is non-blocking and read through the Go netpoller
//     (os.NewFile, then Read): no OS thread blocks on it, since tinit has a
//     fixed thread budget, and Close wakes a blocked Read. The debounce
//     timer is that fd's read deadline, so Run waits for events and for a
//     burst's end in one Read, and there is no goroutine per event.
//     Watches are added and removed through the fd's RawConn, so a Close
//     meanwhile cannot make them act on a reused fd number.
//   - A burst is sent debounce after its last change; changes less than
//     debounce apart are one burst, however many (10,000 writes are one
//     Change). Repeats of a change cost no allocation (see burst.add). A
//     send that nobody takes waits only until Close.
//   - The watcher holds FDs (1) file descriptors, whatever the number of
//     paths: inotify watches are not descriptors.
//
// What counts as a change, and why:
//
//   - A directory PATH is watched itself: any entry created, closed after
//     writing, moved in, moved out or deleted. A file PATH is watched
//     through its directory, filtered by its name: a watch on the file
//     itself would follow a ConfigMap's name -> ..data/name symlink into
//     the timestamped directory that the next update deletes, and would
//     miss a file replaced by rename (an editor's save, a config tool).
//     Neither a write(2) alone (IN_MODIFY: the file may be half written;
//     its close is the change) nor an attribute change counts. inotify is
//     not recursive: a subdirectory's own entries are not seen.
//   - In a directory with a ..data entry (the kubelet's atomic writer, for
//     ConfigMap, Secret, downward API and projected volumes) the one change
//     is the rename of ..data_tmp onto ..data: the writer's other steps
//     (the timestamped directory, ..data_tmp, symlinks, removal of the old
//     directory) are parts of it, and a file PATH's own symlink does not
//     change when its content does. This holds for a directory PATH and for
//     a file PATH in such a directory: one Change per update. Whether a
//     directory has ..data is looked up at New and whenever an entry named
//     ..data comes or goes (the volume's first population).
//   - The directory watched (a directory PATH, or a file PATH's directory)
//     may be replaced: deleted and made again, or another renamed in under
//     its name. Its parent is watched too, for its name; when the directory
//     is gone from its watch (deleted, moved away, unmounted) or its name
//     comes or goes in the parent, the watch is pointed at whatever is at
//     the path now, and that counts as a change ("replaced", or "removed"
//     while nothing is there). The watch on a directory renamed away is
//     removed, so it reports no more. Only this one level is followed: a
//     replaced parent's parent is not watched.
//   - IN_Q_OVERFLOW (the kernel dropped events) is a change, and every
//     watch is looked up again, since a replacement may be among what was
//     lost.
//   - A file PATH that is a symlink elsewhere is followed by its name
//     only: a change of the file it points to is not seen, except as the
//     atomic writer's swap above.
package watch
