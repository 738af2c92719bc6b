mod cli;
mod edit;
mod features;
mod images;
mod overlays;
mod regressions;
mod render;
mod support;
