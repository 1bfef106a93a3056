"""Built-in node kinds, one module per role; importing this package registers them.

Kinds: ``input_v1``, ``director_v1``, ``director_strategy_v1``, ``director_v2``,
``thinker_v1``, ``thinker_v2``, ``interpreter_v1``, ``output_v1``, ``ui_v1``,
``memorizer_v1``, ``sensor_v1``. Importing the package also registers the built-in
offline model's responders for their purposes (``nodes.offline.responders``), so the
offline model can play each role.
"""

from .director import DirectorStrategy, DirectorV1, DirectorV2
from .input import Input
from .interpreter import Interpreter
from .memorizer import Memorizer
from .offline import responders as _responders  # noqa: F401  (registers them)
from .output import Output
from .sensor import Sensor
from .thinker import ThinkerV1, ThinkerV2
from .ui import UI

__all__ = [
    "UI",
    "DirectorStrategy",
    "DirectorV1",
    "DirectorV2",
    "Input",
    "Interpreter",
    "Memorizer",
    "Output",
    "Sensor",
    "ThinkerV1",
    "ThinkerV2",
]
