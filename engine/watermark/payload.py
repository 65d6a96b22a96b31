"""What the mark carries: 16-bit server id, 16-bit stream id, 8-bit CRC = 40 bits.

Layout (most significant bit first): server_id[16] | stream_id[16] | crc8[8], where crc8 is
CRC-8 (polynomial 0x07) over the four payload bytes. The 40 bits travel as SYMBOLS 10-bit symbols,
symbol k = bits [10k, 10k + 10): each symbol is the cyclic shift of one data pattern relative to
the sync pattern (engine.watermark.pattern). A decode whose CRC fails is reported as "mark present,
payload unreadable", never as a wrong payload (1 wrong decode in 256 passes the CRC by chance).
"""

from __future__ import annotations

from dataclasses import dataclass

SERVER_ID_BITS = 16
STREAM_ID_BITS = 16
CRC_BITS = 8
SYMBOL_BITS = 10
SYMBOLS = (SERVER_ID_BITS + STREAM_ID_BITS + CRC_BITS) // SYMBOL_BITS  # 4
CRC8_POLY = 0x07


@dataclass(frozen=True)
class WatermarkPayload:
    server_id: int  # 0..65535: which server (engine.watermark.identity, settings)
    stream_id: int  # 0..65535: which session or render on that server (the audit log maps it)

    def __post_init__(self) -> None:
        for name, value, bits in (
            ("server_id", self.server_id, SERVER_ID_BITS),
            ("stream_id", self.stream_id, STREAM_ID_BITS),
        ):
            if not 0 <= value < 1 << bits:
                raise ValueError(f"watermark {name} must be in 0..{(1 << bits) - 1}, got {value}")

    def __str__(self) -> str:
        return f"{self.server_id:04x}-{self.stream_id:04x}"

    def symbols(self) -> tuple[int, ...]:
        data = self.server_id << STREAM_ID_BITS | self.stream_id
        word = data << CRC_BITS | crc8(data.to_bytes(4, "big"))
        shifts = range((SYMBOLS - 1) * SYMBOL_BITS, -1, -SYMBOL_BITS)
        return tuple(word >> shift & ((1 << SYMBOL_BITS) - 1) for shift in shifts)

    @staticmethod
    def from_symbols(symbols: tuple[int, ...]) -> WatermarkPayload | None:
        """The payload, or None when the CRC does not match (a misread symbol)."""
        word = 0
        for symbol in symbols:
            word = word << SYMBOL_BITS | symbol
        data, check = word >> CRC_BITS, word & ((1 << CRC_BITS) - 1)
        if crc8(data.to_bytes(4, "big")) != check:
            return None
        return WatermarkPayload(data >> STREAM_ID_BITS, data & ((1 << STREAM_ID_BITS) - 1))


def crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc << 1 ^ CRC8_POLY) & 0xFF if crc & 0x80 else crc << 1 & 0xFF
    return crc
