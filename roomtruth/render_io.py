"""File I/O of ``monitor render``: an atomic float32 WAV writer and a read/write pipeline.

The render reads blocks ahead in one thread and writes behind in another, so the engine's
thread only processes; the output appears under its name only when complete (a temporary
file beside it is moved onto it), so a failed or interrupted render never leaves half a file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

__all__ = ["atomic_wav", "Pipeline"]


@contextlib.contextmanager
def atomic_wav(path: Path, *, fs: int, channels: int) -> Iterator[Any]:
    """An open float32 WAV writer on a temporary file moved onto ``path`` on success."""
    import tempfile

    import soundfile as sf

    from calib.errors import StorageError

    if path.is_dir():
        raise StorageError(f"OUT.wav {path} is a folder; give the file to write, e.g. {path / 'out.wav'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.wav", dir=path.parent)
    except PermissionError:
        raise StorageError(f"cannot write {path}: no permission to write in {path.parent}") from None
    except (FileExistsError, NotADirectoryError):
        raise StorageError(f"cannot write {path}: {path.parent} is not a folder") from None
    os.close(fd)
    try:
        # file names are bytes on Linux: a non-UTF-8 name reaches libsndfile as bytes
        with sf.SoundFile(os.fsencode(tmp), "w", samplerate=fs, channels=channels, subtype="FLOAT",
                          format="WAV") as out:
            yield out
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class Pipeline:
    """A reader thread ahead of the caller and a writer thread behind it (bounded queues)."""

    def __init__(self, source: Iterator[Any], sink) -> None:
        import queue
        import threading

        self._src = source
        self._sink = sink
        self._qin: Any = queue.Queue(maxsize=3)
        self._qout: Any = queue.Queue(maxsize=3)
        self._err: list[BaseException] = []
        self._stop = False
        self._tr = threading.Thread(target=self._read, daemon=True)
        self._tw = threading.Thread(target=self._write, daemon=True)

    def _read(self) -> None:
        try:
            for item in self._src:
                if self._stop:
                    break
                self._qin.put(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self._err.append(exc)
        self._qin.put(None)

    def _write(self) -> None:
        while True:
            item = self._qout.get()
            if item is None:
                return
            if self._err:
                continue
            try:
                self._sink(item)
            except BaseException as exc:  # noqa: BLE001
                self._err.append(exc)

    def inputs(self) -> Iterator[Any]:
        while True:
            item = self._qin.get()
            if item is None:
                if self._err:
                    raise self._err[0]
                return
            yield item

    def put(self, item: Any) -> None:
        if self._err:
            raise self._err[0]
        self._qout.put(item)

    def __enter__(self) -> "Pipeline":
        self._tr.start()
        self._tw.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stop = True
        self._qout.put(None)
        self._tw.join()
        if exc_type is None and self._err:
            raise self._err[0]
