"""The optimisation step at the hardware's floor: the loss part captured as CUDA graphs
(``graph``) and step losses read on the host without stalling the device (``readout``)."""
