"""Files in and out: the project, its videos, other tools' formats, exports, job packages."""
