"""Development backend: writes each SMS to standard output instead of sending it.

This is the one place where a login code may appear in clear: on the developer's terminal.
"""

import sys
import threading

from .base import BaseSmsBackend, SmsMessage


class SmsBackend(BaseSmsBackend):
    def __init__(self, *, stream=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def send_message(self, message: SmsMessage) -> None:
        with self._lock:
            self.stream.write(f"-- SMS to {message.to} --\n{message.text}\n-- end of SMS --\n")
            self.stream.flush()
