"""Stand-in ``pynvml`` (nvidia-ml-py; see README.md): NVML as the stand-in devices count memory."""

from standin_custatevec import nvml as _nvml

nvmlInit = _nvml.nvmlInit
nvmlShutdown = _nvml.nvmlShutdown
nvmlDeviceGetHandleByPciBusId = _nvml.nvmlDeviceGetHandleByPciBusId
nvmlDeviceGetMemoryInfo = _nvml.nvmlDeviceGetMemoryInfo
